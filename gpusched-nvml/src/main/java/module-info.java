/**
 * The local GPU host: a read-only NVML binding over JNA (the local GPU inventory as a {@link
 * io.gpusched.NodeSpec} and the {@link io.gpusched.nvml.NvmlTelemetry} sampler), and the {@link
 * io.gpusched.nvml.ProcessLauncher} that runs jobs as local processes. Exports {@code io.gpusched.nvml}, whose
 * public types are the API; the JNA binding in it ({@code NvmlLibrary} and the {@code NvmlStructs}
 * mirrors) is package-private. JNA proxies the library interface and reads and writes the struct
 * mirrors' fields by reflection; the mirrors' classes, constructors and fields are public, which the
 * export alone lets JNA use, but JNA makes a read-only (final) struct field writable with {@code
 * setAccessible}, which needs the package open. So it is opened, to JNA alone.
 *
 * <p>JNA ships no module descriptor, only the {@code Automatic-Module-Name} {@code com.sun.jna}, so
 * requiring it is a {@code requires-automatic} lint warning; that one warning is suppressed here
 * (and nowhere else) because there is no named JNA module to require instead.
 */
@SuppressWarnings("requires-automatic")
module io.gpusched.nvml {
  requires transitive io.gpusched.api;
  requires static transitive org.jspecify;
  requires org.slf4j;
  requires com.github.benmanes.caffeine;
  requires com.sun.jna;

  exports io.gpusched.nvml;

  opens io.gpusched.nvml to
      com.sun.jna;
}
