package io.gpusched.core;

import io.gpusched.AllocatedGpu;
import io.gpusched.CapacityClass;
import io.gpusched.Constraints;
import io.gpusched.GpuDemand;
import io.gpusched.GpuMode;
import io.gpusched.GpuModel;
import io.gpusched.GpuSpec;
import io.gpusched.JobSpec;
import io.gpusched.MigGeometry;
import io.gpusched.MigInstance;
import io.gpusched.MigProfile;
import io.gpusched.ModelQuota;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.QueueSpec;
import io.gpusched.store.StoredAllocation;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Encodes the API's specs ({@link JobSpec}, {@link QueueSpec}, {@link NodeSpec}) and a job's
 * allocations ({@link StoredAllocation}) as JSON text for the {@link JdbcStore}, and decodes them
 * back to equal records. Every scalar is written as a JSON
 * string (doubles with {@link Double#toString}, durations in ISO-8601), so decoding is exact. A
 * text that is not such an encoding throws {@link IllegalArgumentException} naming what is wrong.
 * Stateless and thread-safe.
 */
final class SpecCodec {
  private SpecCodec() {}

  // ---- specs to trees ----

  static String job(JobSpec s) {
    var m = new LinkedHashMap<String, @Nullable Object>();
    m.put("id", s.id());
    m.put("queue", s.queue());
    m.put("priority", str(s.priority()));
    m.put("request", request(s.request()));
    m.put("gangSize", str(s.gangSize()));
    m.put("preemptible", str(s.preemptible()));
    m.put("gracePeriod", s.gracePeriod().toString());
    m.put("timeLimit", dur(s.timeLimit()));
    m.put("expectedDuration", dur(s.expectedDuration()));
    m.put("leaseTtl", dur(s.leaseTtl()));
    m.put("requeueOnPreemption", str(s.requeueOnPreemption()));
    m.put("reclaimWhenIdle", str(s.reclaimWhenIdle()));
    m.put("metadata", new LinkedHashMap<String, @Nullable Object>(s.metadata()));
    return Json.write(m);
  }

  static JobSpec job(String text) {
    Map<String, Object> m = Json.object(Json.parse(text), "job spec");
    return new JobSpec(
        text(m, "id"),
        text(m, "queue"),
        Integer.parseInt(text(m, "priority")),
        request(Json.object(m.get("request"), "request")),
        Integer.parseInt(text(m, "gangSize")),
        Boolean.parseBoolean(text(m, "preemptible")),
        Duration.parse(text(m, "gracePeriod")),
        durOrNull(m, "timeLimit"),
        durOrNull(m, "expectedDuration"),
        durOrNull(m, "leaseTtl"),
        Boolean.parseBoolean(text(m, "requeueOnPreemption")),
        Boolean.parseBoolean(text(m, "reclaimWhenIdle")),
        strings(Json.object(m.get("metadata"), "metadata")));
  }

  private static Map<String, @Nullable Object> request(PlacementRequest r) {
    var m = new LinkedHashMap<String, @Nullable Object>();
    GpuDemand d = r.gpus();
    if (d instanceof GpuDemand.Whole w) {
      m.put("kind", "whole");
      m.put("count", str(w.count()));
      m.put("sameNode", str(w.sameNode()));
      m.put("mixedModels", str(w.mixedModels()));
    } else if (d instanceof GpuDemand.Mig g) {
      m.put("kind", "mig");
      m.put("profile", g.profile());
      if (g.noStranding()) { // written only when set: older records read as false
        m.put("noStranding", str(true));
      }
    } else {
      GpuDemand.Share sh = (GpuDemand.Share) d;
      m.put("kind", "share");
      m.put("milliGpu", str(sh.milliGpu()));
      m.put("memoryMiB", str(sh.memoryMiB()));
    }
    m.put("cpuMillis", str(r.cpuMillis()));
    m.put("hostMemoryMiB", str(r.memoryMiB()));
    Constraints c = r.constraints();
    m.put("models", new ArrayList<@Nullable Object>(c.gpuModels().stream().sorted().toList()));
    m.put("labels", new LinkedHashMap<String, @Nullable Object>(c.labels()));
    m.put(
        "capacityClasses",
        new ArrayList<@Nullable Object>(c.capacityClasses().stream().map(Enum::name).sorted().toList()));
    if (c.minGpuMemoryMiB() > 0) { // written only when set: older records read as 0
      m.put("minGpuMemoryMiB", str(c.minGpuMemoryMiB()));
    }
    return m;
  }

  private static PlacementRequest request(Map<String, Object> m) {
    String kind = text(m, "kind");
    GpuDemand d =
        switch (kind) {
          case "whole" ->
              new GpuDemand.Whole(
                  Integer.parseInt(text(m, "count")),
                  Boolean.parseBoolean(text(m, "sameNode")),
                  m.containsKey("mixedModels") && Boolean.parseBoolean(text(m, "mixedModels")));
          case "mig" ->
              new GpuDemand.Mig(
                  text(m, "profile"),
                  m.containsKey("noStranding") && Boolean.parseBoolean(text(m, "noStranding")));
          case "share" ->
              new GpuDemand.Share(
                  Integer.parseInt(text(m, "milliGpu")), Long.parseLong(text(m, "memoryMiB")));
          default -> throw new IllegalArgumentException("unknown demand kind " + kind);
        };
    Set<CapacityClass> classes = new LinkedHashSet<>();
    for (String c : texts(m.get("capacityClasses"), "capacityClasses")) {
      classes.add(CapacityClass.valueOf(c));
    }
    return new PlacementRequest(
        d,
        Long.parseLong(text(m, "cpuMillis")),
        Long.parseLong(text(m, "hostMemoryMiB")),
        new Constraints(
            new LinkedHashSet<>(texts(m.get("models"), "models")),
            strings(Json.object(m.get("labels"), "labels")),
            classes,
            m.containsKey("minGpuMemoryMiB") ? Long.parseLong(text(m, "minGpuMemoryMiB")) : 0));
  }

  static String queue(QueueSpec q) {
    var m = new LinkedHashMap<String, @Nullable Object>();
    m.put("name", q.name());
    m.put("weight", str(q.weight()));
    m.put("guaranteedGpus", str(q.guaranteedGpus()));
    m.put("borrowLimitGpus", str(q.borrowLimitGpus()));
    m.put("lendLimitGpus", str(q.lendLimitGpus()));
    var quotas = new LinkedHashMap<String, @Nullable Object>();
    q.modelQuotas()
        .forEach(
            (model, mq) ->
                quotas.put(
                    model,
                    new ArrayList<@Nullable Object>(
                        List.of(
                            str(mq.guaranteedGpus()), str(mq.borrowLimitGpus()), str(mq.lendLimitGpus())))));
    m.put("modelQuotas", quotas);
    if (q.allowSpot()) { // written only when set: older records read as false
      m.put("allowSpot", "true");
    }
    return Json.write(m);
  }

  static QueueSpec queue(String text) {
    Map<String, Object> m = Json.object(Json.parse(text), "queue spec");
    var quotas = new LinkedHashMap<String, ModelQuota>();
    Json.object(m.get("modelQuotas"), "modelQuotas")
        .forEach(
            (model, v) -> {
              List<String> t = texts(v, "quota of " + model);
              quotas.put(
                  model,
                  new ModelQuota(
                      Double.parseDouble(t.get(0)), Double.parseDouble(t.get(1)), Double.parseDouble(t.get(2))));
            });
    return new QueueSpec(
        text(m, "name"),
        Double.parseDouble(text(m, "weight")),
        Double.parseDouble(text(m, "guaranteedGpus")),
        Double.parseDouble(text(m, "borrowLimitGpus")),
        Double.parseDouble(text(m, "lendLimitGpus")),
        quotas,
        m.containsKey("allowSpot") && Boolean.parseBoolean(text(m, "allowSpot")));
  }

  static String node(NodeSpec n) {
    var m = new LinkedHashMap<String, @Nullable Object>();
    m.put("id", n.id());
    m.put("labels", new LinkedHashMap<String, @Nullable Object>(n.labels()));
    var gpus = new ArrayList<@Nullable Object>();
    for (GpuSpec g : n.gpus()) {
      var gm = new LinkedHashMap<String, @Nullable Object>();
      gm.put("index", str(g.index()));
      gm.put("uuid", g.uuid());
      gm.put("mode", g.mode().name());
      gm.put("model", model(g.model()));
      var inst = new ArrayList<@Nullable Object>();
      for (MigInstance i : g.staticInstances()) {
        inst.add(new ArrayList<@Nullable Object>(List.of(i.profile(), str(i.startSlot()))));
      }
      gm.put("staticInstances", inst);
      gpus.add(gm);
    }
    m.put("gpus", gpus);
    m.put("cpuMillis", str(n.cpuMillis()));
    m.put("memoryMiB", str(n.memoryMiB()));
    m.put("pricePerGpuHour", str(n.pricePerGpuHour()));
    m.put("capacityClass", n.capacityClass().name());
    return Json.write(m);
  }

  static NodeSpec node(String text) {
    Map<String, Object> m = Json.object(Json.parse(text), "node spec");
    var gpus = new ArrayList<GpuSpec>();
    for (Object o : Json.array(m.get("gpus"), "gpus")) {
      Map<String, Object> gm = Json.object(o, "gpu");
      var inst = new ArrayList<MigInstance>();
      for (Object i : Json.array(gm.get("staticInstances"), "staticInstances")) {
        List<String> t = texts(i, "static instance");
        inst.add(new MigInstance(t.get(0), Integer.parseInt(t.get(1))));
      }
      gpus.add(
          new GpuSpec(
              Integer.parseInt(text(gm, "index")),
              text(gm, "uuid"),
              model(Json.object(gm.get("model"), "model")),
              GpuMode.valueOf(text(gm, "mode")),
              inst));
    }
    return new NodeSpec(
        text(m, "id"),
        strings(Json.object(m.get("labels"), "labels")),
        gpus,
        Long.parseLong(text(m, "cpuMillis")),
        Long.parseLong(text(m, "memoryMiB")),
        Double.parseDouble(text(m, "pricePerGpuHour")),
        CapacityClass.valueOf(text(m, "capacityClass")));
  }

  /**
   * A running job's allocations, one object per gang member in order: its host charges, then its
   * GPUs, each an array of node id, GPU index, UUID, model, mode, MIG profile (or null), MIG start
   * slot, milli-GPU and memory MiB. Null for none (the column is then NULL).
   */
  static @Nullable String allocations(List<StoredAllocation> allocations) {
    if (allocations.isEmpty()) {
      return null;
    }
    var out = new ArrayList<@Nullable Object>(allocations.size());
    for (StoredAllocation a : allocations) {
      var gpus = new ArrayList<@Nullable Object>(a.gpus().size());
      for (AllocatedGpu g : a.gpus()) {
        var t = new ArrayList<@Nullable Object>(9);
        t.add(g.nodeId());
        t.add(str(g.gpuIndex()));
        t.add(g.gpuUuid());
        t.add(g.model());
        t.add(g.mode().name());
        t.add(g.migProfile());
        t.add(str(g.migStartSlot()));
        t.add(str(g.milliGpu()));
        t.add(str(g.memoryMiB()));
        gpus.add(t);
      }
      var m = new LinkedHashMap<String, @Nullable Object>();
      m.put("cpuMillis", str(a.cpuMillis()));
      m.put("memoryMiB", str(a.memoryMiB()));
      m.put("gpus", gpus);
      out.add(m);
    }
    return Json.write(out);
  }

  /** The allocations {@link #allocations(List)} wrote ({@code null}: none). */
  static List<StoredAllocation> allocations(@Nullable String text) {
    if (text == null) {
      return List.of();
    }
    var out = new ArrayList<StoredAllocation>();
    for (Object o : Json.array(Json.parse(text), "allocations")) {
      Map<String, Object> m = Json.object(o, "allocation");
      var gpus = new ArrayList<AllocatedGpu>();
      for (Object g : Json.array(m.get("gpus"), "gpus")) {
        List<?> t = Json.array(g, "gpu");
        if (t.size() != 9) {
          throw new IllegalArgumentException("a GPU of an allocation has 9 fields, this one " + t.size() + ": " + t);
        }
        Object profile = t.get(5);
        gpus.add(
            new AllocatedGpu(
                Json.string(t.get(0), "node id"),
                Integer.parseInt(Json.string(t.get(1), "GPU index")),
                Json.string(t.get(2), "GPU UUID"),
                Json.string(t.get(3), "model"),
                GpuMode.valueOf(Json.string(t.get(4), "mode")),
                profile == null ? null : Json.string(profile, "MIG profile"),
                Integer.parseInt(Json.string(t.get(6), "MIG start slot")),
                Integer.parseInt(Json.string(t.get(7), "milli-GPU")),
                Long.parseLong(Json.string(t.get(8), "memory MiB"))));
      }
      out.add(new StoredAllocation(gpus, Long.parseLong(text(m, "cpuMillis")), Long.parseLong(text(m, "memoryMiB"))));
    }
    if (out.isEmpty()) {
      throw new IllegalArgumentException("an empty allocation list is written as NULL, not " + text);
    }
    return out;
  }

  private static Map<String, @Nullable Object> model(GpuModel g) {
    var m = new LinkedHashMap<String, @Nullable Object>();
    m.put("name", g.name());
    m.put("memoryMiB", str(g.memoryMiB()));
    m.put("smCount", str(g.smCount()));
    MigGeometry mig = g.mig();
    if (mig != null) {
      var gm = new LinkedHashMap<String, @Nullable Object>();
      gm.put("computeSlices", str(mig.computeSlices()));
      gm.put("memorySlices", str(mig.memorySlices()));
      var profiles = new ArrayList<@Nullable Object>();
      for (MigProfile p : mig.profiles()) {
        var pm = new LinkedHashMap<String, @Nullable Object>();
        pm.put("name", p.name());
        pm.put("profileId", str(p.profileId()));
        pm.put("computeSlices", str(p.computeSlices()));
        pm.put("memorySlices", str(p.memorySlices()));
        pm.put("memoryMiB", str(p.memoryMiB()));
        pm.put("smCount", str(p.smCount()));
        pm.put("maxInstances", str(p.maxInstances()));
        pm.put("placementStarts", new ArrayList<@Nullable Object>(p.placementStarts().stream().map(String::valueOf).toList()));
        profiles.add(pm);
      }
      gm.put("profiles", profiles);
      m.put("mig", gm);
    } else {
      m.put("mig", null);
    }
    return m;
  }

  private static GpuModel model(Map<String, Object> m) {
    MigGeometry mig = null;
    Object g = m.get("mig");
    if (g != null) {
      Map<String, Object> gm = Json.object(g, "mig");
      var profiles = new ArrayList<MigProfile>();
      for (Object o : Json.array(gm.get("profiles"), "profiles")) {
        Map<String, Object> pm = Json.object(o, "profile");
        profiles.add(
            new MigProfile(
                text(pm, "name"),
                Integer.parseInt(text(pm, "profileId")),
                Integer.parseInt(text(pm, "computeSlices")),
                Integer.parseInt(text(pm, "memorySlices")),
                Long.parseLong(text(pm, "memoryMiB")),
                Integer.parseInt(text(pm, "smCount")),
                Integer.parseInt(text(pm, "maxInstances")),
                texts(pm.get("placementStarts"), "placementStarts").stream().map(Integer::valueOf).toList()));
      }
      mig =
          new MigGeometry(
              Integer.parseInt(text(gm, "computeSlices")), Integer.parseInt(text(gm, "memorySlices")), profiles);
    }
    return new GpuModel(
        text(m, "name"), Long.parseLong(text(m, "memoryMiB")), Integer.parseInt(text(m, "smCount")), mig);
  }

  // ---- helpers ----

  private static String str(Object o) {
    return String.valueOf(o);
  }

  private static @Nullable String dur(@Nullable Duration d) {
    return d == null ? null : d.toString();
  }

  private static @Nullable Duration durOrNull(Map<String, Object> m, String key) {
    Object o = m.get(key);
    return o == null ? null : Duration.parse(Json.string(o, key));
  }

  private static String text(Map<String, Object> m, String key) {
    Object o = m.get(key);
    if (o == null) {
      throw new IllegalArgumentException("missing " + key);
    }
    return Json.string(o, key);
  }

  private static List<String> texts(@Nullable Object o, String what) {
    var out = new ArrayList<String>();
    for (Object e : Json.array(o, what)) {
      out.add(Json.string(e, what));
    }
    return out;
  }

  private static Map<String, String> strings(Map<String, Object> m) {
    var out = new LinkedHashMap<String, String>();
    m.forEach((k, v) -> out.put(k, Json.string(v, k)));
    return out;
  }

  /** A minimal JSON writer and reader for trees of maps, lists, strings and nulls. */
  static final class Json {
    private Json() {}

    static String write(@Nullable Object tree) {
      var sb = new StringBuilder();
      write(tree, sb);
      return sb.toString();
    }

    private static void write(@Nullable Object o, StringBuilder sb) {
      if (o == null) {
        sb.append("null");
      } else if (o instanceof String s) {
        quote(s, sb);
      } else if (o instanceof Map<?, ?> m) {
        sb.append('{');
        boolean first = true;
        for (var e : m.entrySet()) {
          if (!first) {
            sb.append(',');
          }
          first = false;
          quote((String) e.getKey(), sb);
          sb.append(':');
          write(e.getValue(), sb);
        }
        sb.append('}');
      } else if (o instanceof List<?> l) {
        sb.append('[');
        for (int i = 0; i < l.size(); i++) {
          if (i > 0) {
            sb.append(',');
          }
          write(l.get(i), sb);
        }
        sb.append(']');
      } else {
        throw new IllegalArgumentException("cannot encode " + o.getClass());
      }
    }

    /** Appends {@code s} to {@code sb} as a JSON string literal. */
    static void quote(String s, StringBuilder sb) {
      sb.append('"');
      for (int i = 0; i < s.length(); i++) {
        char c = s.charAt(i);
        switch (c) {
          case '"' -> sb.append("\\\"");
          case '\\' -> sb.append("\\\\");
          default -> {
            if (c < 0x20) {
              sb.append(String.format("\\u%04x", (int) c));
            } else {
              sb.append(c);
            }
          }
        }
      }
      sb.append('"');
    }

    static @Nullable Object parse(String text) {
      Objects.requireNonNull(text, "text");
      var p = new Parser(text);
      Object o = p.value();
      p.ws();
      if (p.i != text.length()) {
        throw new IllegalArgumentException("trailing text at " + p.i + " in " + abbreviate(text));
      }
      return o;
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> object(@Nullable Object o, String what) {
      if (!(o instanceof Map)) {
        throw new IllegalArgumentException(what + " is not an object: " + o);
      }
      return (Map<String, Object>) o;
    }

    static List<?> array(@Nullable Object o, String what) {
      if (!(o instanceof List<?> l)) {
        throw new IllegalArgumentException(what + " is not an array: " + o);
      }
      return l;
    }

    static String string(@Nullable Object o, String what) {
      if (!(o instanceof String s)) {
        throw new IllegalArgumentException(what + " is not a string: " + o);
      }
      return s;
    }

    private static String abbreviate(String s) {
      return s.length() <= 80 ? s : s.substring(0, 80) + "...";
    }

    private static final class Parser {
      final String s;
      int i;

      Parser(String s) {
        this.s = s;
      }

      void ws() {
        while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
          i++;
        }
      }

      IllegalArgumentException bad(String what) {
        return new IllegalArgumentException(what + " at " + i + " in " + abbreviate(s));
      }

      @Nullable Object value() {
        ws();
        if (i >= s.length()) {
          throw bad("unexpected end");
        }
        char c = s.charAt(i);
        if (c == '{') {
          i++;
          var m = new LinkedHashMap<String, @Nullable Object>();
          ws();
          if (peek('}')) {
            return m;
          }
          for (; ; ) {
            ws();
            String k = str();
            ws();
            expect(':');
            m.put(k, value());
            ws();
            if (peek('}')) {
              return m;
            }
            expect(',');
          }
        }
        if (c == '[') {
          i++;
          var l = new ArrayList<@Nullable Object>();
          ws();
          if (peek(']')) {
            return l;
          }
          for (; ; ) {
            l.add(value());
            ws();
            if (peek(']')) {
              return l;
            }
            expect(',');
          }
        }
        if (c == '"') {
          return str();
        }
        if (s.startsWith("null", i)) {
          i += 4;
          return null;
        }
        throw bad("unexpected '" + c + "'");
      }

      boolean peek(char c) {
        if (i < s.length() && s.charAt(i) == c) {
          i++;
          return true;
        }
        return false;
      }

      void expect(char c) {
        if (!peek(c)) {
          throw bad("expected '" + c + "'");
        }
      }

      String str() {
        expect('"');
        var sb = new StringBuilder();
        for (; ; ) {
          if (i >= s.length()) {
            throw bad("unterminated string");
          }
          char c = s.charAt(i++);
          if (c == '"') {
            return sb.toString();
          }
          if (c == '\\') {
            if (i >= s.length()) {
              throw bad("unterminated escape");
            }
            char e = s.charAt(i++);
            switch (e) {
              case '"', '\\', '/' -> sb.append(e);
              case 'u' -> {
                if (i + 4 > s.length()) {
                  throw bad("short \\u escape");
                }
                sb.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                i += 4;
              }
              default -> throw bad("unknown escape \\" + e);
            }
          } else {
            sb.append(c);
          }
        }
      }
    }
  }
}
