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
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import io.gpusched.nvml.ProcessJob;
import org.openqa.selenium.Dimension;
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
 * is downloaded): the dashboard loads and says the GPUs are simulated; a command submitted through
 * its form ({@code sh -c 'echo hello; sleep 2'}) waits PENDING behind a blocker, runs as a real
 * process, completes with exit code 0 and "hello" in its log tail, and its GPU block fills and
 * frees; its row shows the request in words, its events and times in the browser's zone. The page
 * fits 1280 px and a phone's 390 px without sideways scrolling. Saves {@code dashboard.png} in
 * {@code target/} (or the folder {@code -Dgpusched.docs.dir} names).
 * Skipped when the browser or driver is not installed ({@code -Dgpusched.chromium} and {@code
 * -Dgpusched.chromedriver} point elsewhere).
 */
@SpringBootTest(
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {"gpusched.nvml.enabled=false", "demo.log-directory=target/demo-logs/${random.uuid}",
        "demo.data-directory=./target/demo-data/${random.uuid}"})
@DirtiesContext // its minute-long background jobs would hold GPUs other tests expect free
class DashboardBrowserTest {
  static final Path CHROMIUM = Path.of(System.getProperty("gpusched.chromium", "/usr/bin/chromium"));
  static final Path DRIVER = Path.of(System.getProperty("gpusched.chromedriver", "/usr/bin/chromedriver"));

  /** The browser's time zone: not the server's (UTC here), and a half-hour offset. */
  static final String ZONE = "Asia/Kolkata";

  @LocalServerPort int port;
  String base;
  @Autowired GpuScheduler scheduler;
  WebDriver browser;

  @BeforeEach
  void openBrowser() {
    assumeTrue(Files.isExecutable(CHROMIUM) && Files.isExecutable(DRIVER),
        "headless Chromium test skipped: install chromium and chromium-driver");
    ChromeOptions options = new ChromeOptions();
    options.setBinary(CHROMIUM.toFile());
    options.addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
        "--window-size=1280,1000");
    ChromeDriverService service = new ChromeDriverService.Builder()
        .usingDriverExecutable(DRIVER.toFile())
        .withEnvironment(Map.of("TZ", ZONE))
        .build();
    browser = new ChromeDriver(service, options);
    base = "http://127.0.0.1:" + port;
  }

  @AfterEach
  void closeBrowser() {
    if (browser != null) {
      browser.quit();
    }
  }

  @Test
  void aCommandSubmittedThroughThePageRunsAndCompletesWithItsLog() throws Exception {
    // background work, so that the screenshot shows MIG slices and shares taken
    background("3g.40gb-bg", PlacementRequest.mig("3g.40gb"), "research", 60);
    background("1g.10gb-bg", PlacementRequest.mig("1g.10gb"), "interactive", 60);
    background("share-bg", PlacementRequest.share(300, 20 * 1024), "interactive", 60);
    // a blocker on all four A100s: the page's job waits for it until the test cancels it
    background("blocker", PlacementRequest.wholeGpus(4, true), "prod", 600);
    // and both MIG GPUs are partly used, so a whole GPU can only come from the A100 node
    background("3g.40gb-bg2", PlacementRequest.mig("3g.40gb"), "research", 60);

    browser.get(base + "/");
    WebDriverWait wait = new WebDriverWait(browser, Duration.ofSeconds(20), Duration.ofMillis(50));
    wait.until(d -> d.findElements(By.cssSelector(".gpu[data-node='a100-whole']")).size() == 4);
    wait.until(d -> d.findElements(By.cssSelector("#job-queue option")).size() == 3);
    assertThat(browser.findElement(By.id("simulated")).isDisplayed()).as("simulated-GPU banner").isTrue();
    assertThat(browser.findElement(By.id("simulated")).getText()).contains("CUDA_VISIBLE_DEVICES").contains("label");

    new Select(browser.findElement(By.id("job-queue"))).selectByValue("research");
    new Select(browser.findElement(By.id("job-kind"))).selectByValue("whole");
    setValue("job-count", "1");
    setValue("job-command", "sh -c 'echo hello; sleep 2'");
    setValue("job-duration", "3");
    browser.findElement(By.id("submit-job")).click();
    String id = wait.until(d -> d.findElement(By.id("form-result")).getDomAttribute("data-job-id"));
    assertThat(browser.findElement(By.id("form-result")).getText()).contains("PENDING");
    String row = "tr[data-job-id='" + id + "'] ";
    wait.until(d -> text(row + "td.state").equals("PENDING"));
    List<String> seen = new ArrayList<>(List.of("PENDING"));
    scheduler.job("blocker").orElseThrow().cancel();

    boolean blockFilled = false;
    boolean helloWhileRunning = false;
    boolean screenshot = false;
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (System.nanoTime() < deadline) {
      String state = text(row + "td.state");
      if (!state.isEmpty() && (seen.isEmpty() || !seen.get(seen.size() - 1).equals(state))) {
        seen.add(state);
      }
      if ("RUNNING".equals(state)) {
        blockFilled |= !browser.findElements(By.cssSelector(".gpu[data-node='a100-whole'] .block.used")).isEmpty();
        helloWhileRunning |= text(row + "td.log").contains("hello");
        if (!screenshot && helloWhileRunning) {
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
    wait.until(d -> text(row + "td.exit").equals("0"));
    assertThat(text(row + "td.log")).contains("hello").contains("ended: exit status 0");
    assertThat(text(row + "td.command")).isEqualTo("sh -c 'echo hello; sleep 2'");
    assertThat(text(row + "td.request")).isEqualTo("1 x A100-80GB");
    assertThat(text(row + "td.where")).contains("CUDA_VISIBLE_DEVICES=GPU-a100-whole-");
    String events = text(row + "td.events-cell");
    assertThat(events).contains("submitted").contains("started").contains("completed");
    wait.until(d -> d.findElements(By.cssSelector(".gpu[data-node='a100-whole'] .block.used")).isEmpty());

    // times are in the viewer's zone (the browser runs in Asia/Kolkata, +05:30), not the server's
    assertThat(browser.findElement(By.id("zone")).getText()).containsPattern("Asia/(Kolkata|Calcutta)");
    WebElement submitted = browser.findElement(By.cssSelector(row + "li.ev-submitted time"));
    ZonedDateTime at = Instant.parse(submitted.getDomAttribute("datetime")).atZone(ZoneId.of(ZONE));
    Matcher hms = Pattern.compile("(\\d{1,2}):(\\d{2}):(\\d{2})").matcher(submitted.getText());
    assertThat(hms.find()).as(submitted.getText()).isTrue();
    assertThat(Integer.parseInt(hms.group(1)) % 12).isEqualTo(at.getHour() % 12);
    assertThat(Integer.parseInt(hms.group(2))).isEqualTo(at.getMinute());

    // a MIG job that may not strand compute, from the form
    new Select(browser.findElement(By.id("job-kind"))).selectByValue("mig");
    assertThat(browser.findElement(By.id("job-no-stranding")).isDisplayed()).isTrue();
    setValue("job-profile", "1g.20gb");
    setValue("job-command", "");
    browser.findElement(By.id("job-no-stranding")).click();
    browser.findElement(By.id("submit-job")).click();
    String migId =
        wait.until(d -> {
          String j = d.findElement(By.id("form-result")).getDomAttribute("data-job-id");
          return j != null && !j.equals(id) ? j : null;
        });
    wait.until(d -> text("tr[data-job-id='" + migId + "'] td.request").contains("1g.20gb, no stranding"));
  }

  @Test
  void thePageFitsA1280PxScreenAndAPhone() {
    background("fit-bg", PlacementRequest.mig("3g.40gb"), "research", 60);
    browser.get(base + "/");
    WebDriverWait wait = new WebDriverWait(browser, Duration.ofSeconds(20), Duration.ofMillis(50));
    wait.until(d -> !d.findElements(By.cssSelector("tr[data-job-id='fit-bg'] td.state")).isEmpty());
    for (int[] size : new int[][] {{1280, 900}, {390, 844}}) {
      browser.manage().window().setSize(new Dimension(size[0], size[1]));
      wait.until(d -> ((Number) script("return window.innerWidth")).intValue() <= size[0]);
      long inner = ((Number) script("return document.documentElement.clientWidth")).longValue();
      long scroll = ((Number) script("return document.documentElement.scrollWidth")).longValue();
      assertThat(scroll).as("no sideways scrolling at %d px", size[0]).isLessThanOrEqualTo(inner);
      WebElement submit = browser.findElement(By.id("submit-job"));
      assertThat(submit.isDisplayed()).isTrue();
      assertThat(submit.getRect().getX() + submit.getRect().getWidth()).isLessThanOrEqualTo((int) inner);
      // read in the page in one step: the table is redrawn every 250 ms, so a WebElement of a row
      // can go stale between finding it and reading its box
      double stateRight =
          ((Number)
                  script(
                      "return document.querySelector(\"tr[data-job-id='fit-bg'] td.state\")"
                          + ".getBoundingClientRect().right"))
              .doubleValue();
      assertThat(Math.floor(stateRight)).as("state cell on screen").isLessThanOrEqualTo((double) inner);
    }
    // on the phone the job table is a list of cards: no header row
    assertThat(browser.findElement(By.cssSelector("#jobs thead")).isDisplayed()).isFalse();
  }

  private void background(String id, PlacementRequest request, String queue, int seconds) {
    scheduler.submit(ProcessJob.command("sleep", Integer.toString(seconds))
        .applyTo(JobSpec.builder(request).id(id).queue(queue).expectedDuration(Duration.ofSeconds(seconds)))
        .build());
  }

  private Object script(String js, Object... args) {
    return ((JavascriptExecutor) browser).executeScript(js, args);
  }

  /** A cell's text, read through script: the table is redrawn on every pushed state. */
  private String text(String css) {
    return String.valueOf(script(
        "const c = document.querySelector(arguments[0]); return c ? c.textContent : '';", css));
  }

  private void setValue(String id, String value) {
    WebElement e = browser.findElement(By.id(id));
    e.clear();
    e.sendKeys(value);
  }

  /** Saves the whole page at 1280 px wide (the window grows to the page's height, then returns). */
  private void saveScreenshot() throws Exception {
    Dimension before = browser.manage().window().getSize();
    long height = ((Number) script("return document.documentElement.scrollHeight")).longValue();
    browser.manage().window().setSize(new Dimension(1280, (int) Math.min(2400, height + 140)));
    Path shot = ((ChromeDriver) browser).getScreenshotAs(OutputType.FILE).toPath();
    String dir = System.getProperty("gpusched.docs.dir");
    Path target = dir != null ? Path.of(dir, "dashboard.png") : Path.of("target", "dashboard.png");
    Files.createDirectories(target.getParent());
    Files.copy(shot, target, StandardCopyOption.REPLACE_EXISTING);
    browser.manage().window().setSize(before);
  }
}
