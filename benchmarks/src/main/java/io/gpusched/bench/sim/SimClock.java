package io.gpusched.bench.sim;

import java.time.Instant;
import java.time.InstantSource;

/** The simulation's virtual clock: milliseconds since {@link #EPOCH}, moved only by the simulator. */
public final class SimClock implements InstantSource {
  /** Simulated time zero: a Monday, 00:00 UTC. */
  public static final Instant EPOCH = Instant.parse("2026-01-05T00:00:00Z");

  private long nowMillis;

  /** Returns milliseconds since {@link #EPOCH}. */
  public long nowMillis() {
    return nowMillis;
  }

  /** Moves the clock; it never goes back. */
  void set(long millis) {
    if (millis < nowMillis) {
      throw new IllegalStateException("clock would go back from " + nowMillis + " to " + millis);
    }
    nowMillis = millis;
  }

  @Override
  public Instant instant() {
    return EPOCH.plusMillis(nowMillis);
  }

  @Override
  public long millis() {
    return EPOCH.toEpochMilli() + nowMillis;
  }
}
