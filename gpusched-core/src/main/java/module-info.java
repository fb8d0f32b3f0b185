/**
 * The lock-free placement engine and the job scheduler. The only exported package is {@code
 * io.gpusched.core}, and in it only {@link io.gpusched.core.GpuClusters}, {@link io.gpusched.core.SchedulerStores}, {@link io.gpusched.core.SchedulerReplicas}, {@link
 * io.gpusched.core.GpuSchedulers}, {@link io.gpusched.core.JobNotifier} and their builders (and
 * the notifier's nested types) are public; everything else is internal and
 * no package is opened for reflection. The API module is required transitively because the
 * builders take and return its types.
 */
module io.gpusched.core {
  requires transitive io.gpusched.api;
  requires static transitive org.jspecify;
  requires org.slf4j;
  requires org.jctools.core;
  // JCTools' Unsafe-based queues need sun.misc.Unsafe at run time, but its descriptor only says
  // "requires static transitive jdk.unsupported", which does not resolve the module when an
  // application is launched from the module path; without this line the scheduler's command queue
  // fails there with NoClassDefFoundError: sun/misc/Unsafe.
  requires jdk.unsupported;
  requires com.github.benmanes.caffeine;
  // the JDBC store (SchedulerStores.jdbc) takes a javax.sql.DataSource; no driver is required
  requires transitive java.sql;
  // JobNotifier posts webhooks; its builder takes an optional java.net.http.HttpClient
  requires transitive java.net.http;

  exports io.gpusched.core;
}
