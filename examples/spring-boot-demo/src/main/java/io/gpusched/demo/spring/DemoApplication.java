package io.gpusched.demo.spring;

import io.gpusched.nvml.Nvml;
import io.gpusched.nvml.NvmlInventory;
import io.gpusched.nvml.ProcessLauncher;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.context.annotation.Bean;
import org.springframework.scheduling.annotation.EnableScheduling;

/**
 * Example service on the gpusched starter: a REST API to submit and manage jobs, and a live
 * dashboard at {@code /}. The scheduler itself comes from the starter and {@code application.yml};
 * this application adds a {@link ProcessLauncher}, so that each job really runs as a process on
 * this machine: its command, or {@code sleep <durationSeconds>} when it gives none.
 *
 * <p>On a machine without NVIDIA GPUs the scheduler uses the inventory declared under {@code
 * gpusched.nodes}: the processes run all the same, but their {@code CUDA_VISIBLE_DEVICES} is a
 * label such as {@code GPU-a100-whole-0}, not a device ({@link DemoInventory}).
 */
@SpringBootApplication
@EnableScheduling
public class DemoApplication {
  private static final Logger LOG = LoggerFactory.getLogger(DemoApplication.class);

  /**
   * Starts the service.
   *
   * @param args Spring Boot arguments, e.g. {@code --server.port=9090}
   */
  public static void main(String[] args) {
    SpringApplication.run(DemoApplication.class, args);
  }

  @Bean
  DemoInventory demoInventory(@Value("${gpusched.nvml.enabled:false}") boolean nvmlEnabled) {
    boolean real = nvmlEnabled && Nvml.availability().available();
    return new DemoInventory(!real);
  }

  /** Runs jobs as processes; closed (their process trees stopped) with the context. */
  @Bean(destroyMethod = "close")
  ProcessLauncher processLauncher(
      DemoInventory inventory,
      @Value("${demo.log-directory:${java.io.tmpdir}/gpusched-demo-logs}") Path logDirectory) {
    ProcessLauncher.Builder b = ProcessLauncher.builder(logDirectory).simulatedGpus(inventory.simulated());
    if (!inventory.simulated()) {
      b.inventory(NvmlInventory.local());
    }
    LOG.info(
        "demo: jobs run as processes, logs in {}; GPUs {}",
        logDirectory,
        inventory.simulated()
            ? "simulated (gpusched.nodes): CUDA_VISIBLE_DEVICES is a label, not a device"
            : "from NVML");
    return b.build();
  }
}
