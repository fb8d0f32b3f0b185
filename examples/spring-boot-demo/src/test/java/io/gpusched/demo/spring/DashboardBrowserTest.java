package io.gpusched.demo.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.gpusched.GpuScheduler;
import io.gpusched.JobSpec;
import io.gpusched.PlacementRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.annotation.DirtiesContext;

/**
 * End to end in headless Chromium (Debian's {@code chromium} and {@code chromium-driver}; nothing
 * is downloaded): the dashboard loads, a job submitted through its form waits PENDING behind a
 * blocker, runs, completes, and its GPU block fills and frees. Saves {@code dashboard.png} in
 * {@code target/} (or the folder {@code -Dgpusched.docs.dir} names).
 * Skipped when the browser or driver is not installed ({@code -Dgpusched.chromium} and {@code
 * -Dgpusched.chromedriver} point elsewhere).
 */
@SpringBootTest(
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = "gpusched.nvml.enabled=false")
@DirtiesContext // its minute-long background jobs would hold GPUs other tests expect free
class DashboardBrowserTest {
  static final Path CHROMIUM = Path.of(System.getProperty("gpusched.chromium", "/usr/bin/chromium"));
  static final Path DRIVER = Path.of(System.getProperty("gpusched.chromedriver", "/usr/bin/chromedriver"));

  @LocalServerPort int port;
  @Autowired GpuScheduler scheduler;
  WebDriver browser;

  @BeforeEach
  void openBrowser() {
    assumeTrue(Files.isExecutable(CHROMIUM) && Files.isExecutable(DRIVER),
        "headless Chromium test skipped: install chromium and chromium-driver");
    ChromeOptions options = new ChromeOptions();
    options.setBinary(CHROMIUM.toFile());
    options.addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
        "--window-size=1400,1000");
    ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(DRIVER.toFile()).build();
    browser = new ChromeDriver(service, options);
  }

  @AfterEach
  void closeBrowser() {
    if (browser != null) {
      browser.quit();
    }
  }

  @Test
  void jobSubmittedThroughThePageRunsAndCompletes() throws Exception {
    // background work, so that the screenshot shows MIG slices and shares taken
    scheduler.submit(JobSpec.builder(PlacementRequest.mig("3g.40gb")).queue("research").expectedDuration(Duration.ofSeconds(60)).build());
    scheduler.submit(JobSpec.builder(PlacementRequest.mig("1g.10gb")).queue("interactive").expectedDuration(Duration.ofSeconds(60)).build());
    scheduler.submit(JobSpec.builder(PlacementRequest.share(300, 20_000)).queue("interactive").expectedDuration(Duration.ofSeconds(60)).build());
    // a blocker on all four A100s: the page's job has to wait for it
    scheduler.submit(JobSpec.builder(PlacementRequest.wholeGpus(4, true)).queue("prod").expectedDuration(Duration.ofSeconds(4)).build());
    // and both MIG GPUs are partly used, so a whole GPU can only come from the A100 node
    scheduler.submit(JobSpec.builder(PlacementRequest.mig("3g.40gb")).queue("research").expectedDuration(Duration.ofSeconds(60)).build());

    browser.get("http://localhost:" + port + "/");
    WebDriverWait wait = new WebDriverWait(browser, Duration.ofSeconds(20), Duration.ofMillis(50));
    wait.until(d -> d.findElements(By.cssSelector(".gpu[data-node='a100-whole']")).size() == 4);
    wait.until(d -> d.findElements(By.cssSelector("#job-queue option")).size() == 3);

    new Select(browser.findElement(By.id("job-queue"))).selectByValue("research");
    new Select(browser.findElement(By.id("job-kind"))).selectByValue("whole");
    setValue("job-count", "1");
    setValue("job-duration", "3");
    browser.findElement(By.id("submit-job")).click();
    String id = wait.until(d -> d.findElement(By.id("form-result")).getDomAttribute("data-job-id"));
    assertThat(browser.findElement(By.id("form-result")).getText()).contains("PENDING");

    String rowCss = "tr[data-job-id='" + id + "'] td.state";
    List<String> seen = new ArrayList<>();
    boolean blockFilled = false;
    boolean screenshot = false;
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (System.nanoTime() < deadline) {
      // read through script: the table is redrawn on every pushed state
      Object text = ((JavascriptExecutor) browser).executeScript(
          "const c = document.querySelector(arguments[0]); return c ? c.textContent : '';", rowCss);
      String state = String.valueOf(text);
      if (!state.isEmpty() && (seen.isEmpty() || !seen.get(seen.size() - 1).equals(state))) {
        seen.add(state);
      }
      if ("RUNNING".equals(state)) {
        blockFilled |= !browser.findElements(By.cssSelector(".gpu[data-node='a100-whole'] .block.used")).isEmpty();
        if (!screenshot) {
          Thread.sleep(1200); // a second of chart
          saveScreenshot();
          screenshot = true;
        }
      }
      if ("COMPLETED".equals(state)) {
        break;
      }
      Thread.sleep(50);
    }
    assertThat(seen).containsSubsequence("PENDING", "RUNNING", "COMPLETED");
    assertThat(blockFilled).as("the A100 block filled while the job ran").isTrue();
    wait.until(d -> d.findElements(By.cssSelector(".gpu[data-node='a100-whole'] .block.used")).isEmpty());
  }

  private void setValue(String id, String value) {
    WebElement e = browser.findElement(By.id(id));
    e.clear();
    e.sendKeys(value);
  }

  private void saveScreenshot() throws Exception {
    Path shot = ((ChromeDriver) browser).getScreenshotAs(OutputType.FILE).toPath();
    String dir = System.getProperty("gpusched.docs.dir");
    Path target = dir != null ? Path.of(dir, "dashboard.png") : Path.of("target", "dashboard.png");
    Files.createDirectories(target.getParent());
    Files.copy(shot, target, StandardCopyOption.REPLACE_EXISTING);
  }
}
