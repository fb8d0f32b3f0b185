package io.gpusched.spring.boot;

import io.gpusched.GpuScheduler;
import io.gpusched.GpuTelemetry;
import io.gpusched.JobLauncher;
import io.gpusched.NodeSpec;
import io.gpusched.QueueSpec;
import io.gpusched.SchedulerListener;
import io.gpusched.core.GpuSchedulers;
import io.gpusched.core.SchedulerReplicas;
import io.gpusched.core.SchedulerStores;
import io.gpusched.store.SchedulerReplica;
import io.gpusched.store.SchedulerStore;
import java.util.ArrayList;
import java.util.List;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnExpression;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.env.Environment;

/**
 * Auto-configures a {@link GpuScheduler} from {@code gpusched.*}: static nodes and, with {@code
 * gpusched.nvml.enabled}, the local GPUs; queues, policy, strategy, preemption, idle detection; the
 * application's {@link JobLauncher} (a no-op one otherwise), every {@link SchedulerListener} bean,
 * scheduler events as Spring application events, a durable store ({@code gpusched.store.type}),
 * and a graceful stop. Every bean backs off when
 * the application defines its own; nothing is created with {@code gpusched.enabled=false}.
 */
@AutoConfiguration
@ConditionalOnBooleanProperty(name = "gpusched.enabled", matchIfMissing = true)
@EnableConfigurationProperties(GpuSchedProperties.class)
public final class GpuSchedAutoConfiguration {
  private static final Logger LOG = LoggerFactory.getLogger(GpuSchedAutoConfiguration.class);

  @Bean
  @ConditionalOnMissingBean
  JobLauncher gpuschedJobLauncher() {
    return JobLauncher.NONE;
  }

  @Bean
  @ConditionalOnMissingBean(name = "gpuschedSpringEventBridge")
  @ConditionalOnBooleanProperty(name = "gpusched.events.enabled", matchIfMissing = true)
  SchedulerListener gpuschedSpringEventBridge(ApplicationEventPublisher publisher) {
    return new SpringEventBridge(publisher);
  }

  /**
   * The store {@code gpusched.store.type} names: none for NONE (the default), an in-memory store for
   * MEMORY, the application's {@code DataSource} for JDBC (an application's own {@link
   * SchedulerStore} bean wins).
   */
  @Bean
  @ConditionalOnMissingBean
  @ConditionalOnExpression("'${gpusched.store.type:NONE}'.toUpperCase() != 'NONE'")
  SchedulerStore gpuschedStore(GpuSchedProperties properties, ObjectProvider<DataSource> dataSource) {
    return switch (properties.getStore().getType()) {
      case MEMORY -> SchedulerStores.inMemory();
      case JDBC -> {
        DataSource ds = dataSource.getIfUnique();
        if (ds == null) {
          throw new IllegalStateException(
              "gpusched.store.type=jdbc needs exactly one DataSource bean (PostgreSQL 15+ or an H2"
                  + " file database); found " + dataSource.stream().count());
        }
        yield SchedulerStores.jdbc(ds);
      }
      case NONE -> throw new IllegalStateException("unreachable: gpusched.store.type=none");
    };
  }

  @Bean(destroyMethod = "close")
  @ConditionalOnMissingBean
  @ConditionalOnBooleanProperty(name = "gpusched.store.replica.enabled", havingValue = false, matchIfMissing = true)
  GpuScheduler gpuScheduler(
      GpuSchedProperties properties,
      JobLauncher launcher,
      ObjectProvider<SchedulerListener> listeners,
      ObjectProvider<GpuSchedNvml> nvml,
      ObjectProvider<GpuTelemetry> telemetry,
      ObjectProvider<GpuSchedulerBuilderCustomizer> customizers,
      ObjectProvider<SchedulerStore> store,
      ObjectProvider<GpuSchedStoreDecorator> storeMeters,
      Environment environment) {
    KnownKeys.check(environment);
    GpuSchedulers.Builder b =
        builder(properties, launcher, listeners, nvml, telemetry, customizers);
    GpuSchedStoreDecorator decorator = storeMeters.getIfAvailable();
    store.ifAvailable(s -> b.store(decorator == null ? s : decorator.apply(s)));
    GpuScheduler scheduler = b.build();
    int gpus = scheduler.cluster().nodes().stream().mapToInt(n -> n.gpus().size()).sum();
    if (gpus == 0) {
      LOG.warn(
          "gpusched: the scheduler has no GPUs, so no job can start until nodes are added at run"
              + " time; declare them under gpusched.nodes, or set gpusched.nvml.enabled=true on a"
              + " machine with NVIDIA GPUs");
    }
    LOG.info(
        "gpusched: scheduler on {} node(s), {} GPU(s); queues {}; policy {}, strategy {}",
        scheduler.cluster().nodes().size(),
        gpus,
        scheduler.queues().stream().map(QueueSpec::name).toList(),
        properties.getPolicy(),
        properties.getStrategy());
    SchedulerFactory.warnAboutGuarantees(scheduler.queues(), gpus, LOG);
    return scheduler;
  }

  /**
   * With {@code gpusched.store.replica.enabled=true} (and {@code gpusched.store.type=jdbc}): this
   * application is one of several replicas on the application's {@code DataSource}; the replica
   * builds its scheduler from the same configuration each time it wins leadership, and there is no
   * {@link GpuScheduler} bean (use {@link SchedulerReplica#leader()}).
   */
  @Bean(destroyMethod = "close")
  @ConditionalOnMissingBean
  @ConditionalOnBooleanProperty("gpusched.store.replica.enabled")
  SchedulerReplica gpuschedReplica(
      GpuSchedProperties properties,
      JobLauncher launcher,
      ObjectProvider<SchedulerListener> listeners,
      ObjectProvider<GpuSchedNvml> nvml,
      ObjectProvider<GpuTelemetry> telemetry,
      ObjectProvider<GpuSchedulerBuilderCustomizer> customizers,
      ObjectProvider<DataSource> dataSource,
      ObjectProvider<GpuSchedStoreDecorator> storeMeters) {
    if (properties.getStore().getType() != GpuSchedProperties.StoreType.JDBC) {
      throw new IllegalStateException(
          "gpusched.store.replica.enabled=true needs gpusched.store.type=jdbc, was "
              + properties.getStore().getType());
    }
    DataSource ds = dataSource.getIfUnique();
    if (ds == null) {
      throw new IllegalStateException(
          "gpusched.store.replica.enabled=true needs exactly one DataSource bean (PostgreSQL 15+); found "
              + dataSource.stream().count());
    }
    GpuSchedProperties.Replica r = properties.getStore().getReplica();
    GpuSchedStoreDecorator meters = storeMeters.getIfAvailable();
    SchedulerReplica replica =
        SchedulerReplicas.newBuilder(
                ds, () -> builder(properties, launcher, listeners, nvml, telemetry, customizers))
            .name(r.getName())
            .leaseDuration(r.getLeaseDuration())
            .pollInterval(r.getPollInterval())
            .storeDecorator(meters == null ? s -> s : meters)
            .build();
    LOG.info("gpusched: replica {} started on {} (lease {})", r.getName(), ds, r.getLeaseDuration());
    return replica;
  }

  /** A scheduler builder from the properties and beans, without a store. */
  private static GpuSchedulers.Builder builder(
      GpuSchedProperties properties,
      JobLauncher launcher,
      ObjectProvider<SchedulerListener> listeners,
      ObjectProvider<GpuSchedNvml> nvml,
      ObjectProvider<GpuTelemetry> telemetry,
      ObjectProvider<GpuSchedulerBuilderCustomizer> customizers) {
    GpuSchedulers.Builder b = GpuSchedulers.newBuilder();
    SchedulerFactory.configure(b, properties);
    List<NodeSpec> nodes = new ArrayList<>();
    GpuSchedNvml local = nvml.getIfAvailable();
    List<NodeSpec> statics = SchedulerFactory.nodes(properties);
    if (local != null && local.node().isPresent()) {
      nodes.add(local.node().get());
      if (properties.getNvml().getStaticNodes() == GpuSchedProperties.StaticNodes.KEEP) {
        nodes.addAll(statics);
      }
    } else {
      nodes.addAll(statics);
    }
    b.nodes(nodes);
    b.launcher(launcher);
    listeners.orderedStream().forEach(b::listener);
    if (properties.getIdle().isEnabled()) {
      GpuTelemetry t = telemetry.getIfAvailable();
      if (t == null || t == GpuTelemetry.NONE) {
        LOG.warn(
            "gpusched: gpusched.idle.enabled=true but there is no GpuTelemetry (NVML telemetry off"
                + " or absent, and no GpuTelemetry bean): idle detection is off");
      } else {
        SchedulerFactory.idle(b, properties.getIdle(), t);
      }
    }
    customizers.orderedStream().forEach(c -> c.customize(b));
    return b;
  }

  @Bean
  @ConditionalOnMissingBean
  @ConditionalOnBooleanProperty(name = "gpusched.store.replica.enabled", havingValue = false, matchIfMissing = true)
  GpuSchedLifecycle gpuschedLifecycle(GpuScheduler scheduler) {
    return new GpuSchedLifecycle(scheduler);
  }

  /**
   * JSON of jobs and allocations: Spring Boot adds this module to its {@code JsonMapper}, so a
   * controller may return a {@code JobHandle} or an {@code Allocation} (see {@link JobView}).
   */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(name = "tools.jackson.databind.JacksonModule")
  static class JacksonConfiguration {

    @Bean
    @ConditionalOnMissingBean
    GpuSchedJacksonModule gpuschedJacksonModule() {
      return new GpuSchedJacksonModule();
    }
  }

  /** Local GPUs through NVML, when asked for. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(name = "io.gpusched.nvml.Nvml")
  @ConditionalOnBooleanProperty("gpusched.nvml.enabled")
  static class NvmlConfiguration {

    @Bean
    @ConditionalOnMissingBean
    GpuSchedNvml gpuschedNvml(GpuSchedProperties properties) {
      return GpuSchedNvml.local(properties.getNvml().getNodeId(), properties.getNodes().size());
    }
  }

  /**
   * NVML telemetry (a background sampler, closed on shutdown with the context) as the scheduler's
   * {@link GpuTelemetry}, when NVML found this machine's GPUs.
   */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(name = NvmlTelemetryConfiguration.TELEMETRY_CLASS)
  @ConditionalOnBooleanProperty("gpusched.nvml.enabled")
  static class NvmlTelemetryConfiguration {
    static final String TELEMETRY_CLASS = "io.gpusched.nvml.NvmlTelemetry";

    @Bean
    @ConditionalOnMissingBean
    GpuTelemetry gpuschedNvmlTelemetry(GpuSchedNvml nvml, GpuSchedProperties properties) {
      if (nvml.node().isEmpty()) {
        return GpuTelemetry.NONE;
      }
      try {
        return io.gpusched.nvml.NvmlTelemetry.builder()
            .period(properties.getNvml().getTelemetryPeriod())
            .build();
      } catch (RuntimeException e) {
        LOG.warn("gpusched: NVML telemetry did not start: {}", e.toString());
        return GpuTelemetry.NONE;
      }
    }
  }
}
