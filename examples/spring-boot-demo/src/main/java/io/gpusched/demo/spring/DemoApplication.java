package io.gpusched.demo.spring;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.scheduling.annotation.EnableScheduling;

/**
 * Example service on the gpusched starter: a REST API to submit and manage jobs, and a live
 * dashboard at {@code /}. The scheduler itself comes from the starter and {@code application.yml};
 * this application adds only a {@link DemoLauncher} that "runs" each job for its declared duration.
 */
@SpringBootApplication
@EnableScheduling
public class DemoApplication {

  /**
   * Starts the service.
   *
   * @param args Spring Boot arguments, e.g. {@code --server.port=9090}
   */
  public static void main(String[] args) {
    SpringApplication.run(DemoApplication.class, args);
  }
}
