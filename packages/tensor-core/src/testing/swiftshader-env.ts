/**
 * Makes Dawn (npm `webgpu`) find a Vulkan driver on a machine without a GPU: SwiftShader, which
 * Debian's chromium package installs. Call before the first `import('webgpu')`.
 *
 * - VK_ICD_FILENAMES (when unset) points the Vulkan loader at SwiftShader's ICD; XDG_RUNTIME_DIR
 *   defaults to /tmp.
 * - When the system has no Vulkan loader (libvulkan1 is not a dependency of chromium), chromium's
 *   bundled copy is loaded and pinned in the process (RTLD_NODELETE), so Dawn's later
 *   dlopen("libvulkan.so.1") finds it by soname. LD_LIBRARY_PATH cannot do this: the dynamic
 *   loader reads it only at process start.
 */
const CHROMIUM = '/usr/lib/chromium';
const ICD = `${CHROMIUM}/vk_swiftshader_icd.json`;
const RTLD_NOW = 2;
const RTLD_NODELETE = 0x1000;

/** Loads `path` into the process for good; true when it is (or already was) loaded. */
function pinLibrary(path: string): boolean {
  try {
    process.dlopen({ exports: {} }, path, RTLD_NOW | RTLD_NODELETE);
    return true;
  } catch (error) {
    // Not a Node addon, so dlopen succeeded but Node refuses it: the library stays loaded.
    return /did not self-register/.test(String((error as Error).message));
  }
}

export function prepareSwiftShaderEnvironment(): void {
  if (typeof process === 'undefined' || process.platform !== 'linux') return;
  // Through getBuiltinModule, not an import: this module is part of the testing entry, which
  // browser test bundles include too.
  const { existsSync } = process.getBuiltinModule('node:fs');
  if (!process.env.VK_ICD_FILENAMES && existsSync(ICD)) process.env.VK_ICD_FILENAMES = ICD;
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  if (!pinLibrary('libvulkan.so.1') && existsSync(`${CHROMIUM}/libvulkan.so.1`)) pinLibrary(`${CHROMIUM}/libvulkan.so.1`);
}
