package io.gpusched.core;

import io.gpusched.QueueSpec;
import io.gpusched.StopReason;
import io.gpusched.core.QueueState.ModelLimits;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Queue quotas: guarantees, borrow limits and lend limits, in total and per GPU model. Decides
 * whether a job's queue may take its demand now, narrows the models it may be placed on, and
 * answers the guarantee questions that order queues and justify quota reclaim.
 *
 * <p>Owns no state beyond two build-time flags; it reads the queues' usage and the capacity.
 * Writes only the job's per-pass fields {@link Job#allowedModels} and {@link
 * Job#quotaKeptItFromRoom}. Threads: the dispatcher only.
 */
final class QuotaPolicy {

  private final Capacity capacity;
  private final List<QueueState> queueList;
  /** Whether some queue limits lending of its guarantee. */
  private final boolean anyLendLimit;
  /** Whether some queue limits lending of its guarantee on one GPU model. */
  private final boolean anyModelLendLimit;

  QuotaPolicy(Capacity capacity, List<QueueState> queueList) {
    this.capacity = capacity;
    this.queueList = queueList;
    boolean lend = false;
    boolean modelLend = false;
    for (QueueState s : queueList) {
      QueueSpec q = s.spec;
      lend |= !Double.isInfinite(q.lendLimitGpus());
      for (var mq : q.modelQuotas().values()) {
        modelLend |= !Double.isInfinite(mq.lendLimitGpus());
      }
    }
    this.anyLendLimit = lend;
    this.anyModelLendLimit = modelLend;
  }

  /** Whether the queue is below its total guarantee or below its guarantee on some model. */
  boolean belowAGuarantee(QueueState q) {
    if (q.usedMilli < q.guaranteeMilli) {
      return true;
    }
    for (int m = 0; m < capacity.models.size(); m++) {
      ModelLimits quota = modelQuota(q, m);
      if (quota != null && modelUse(q, m) < quota.guaranteeMilli()) {
        return true;
      }
    }
    return false;
  }

  /** Whether starting the job keeps its queue within its total guarantee. */
  static boolean withinGuarantee(Job j) {
    return j.queue.usedMilli + j.demandMilli <= j.queue.guaranteeMilli;
  }

  /** Whether the job's start stays within its queue's total or some per-model guarantee. */
  boolean guaranteed(Job j) {
    return withinGuarantee(j) || modelWithinGuarantee(j) >= 0;
  }

  /**
   * Borrow limit of the job's queue, lend limits of the others, and the queue's per-model limits:
   * models where the job would pass its queue's model limit are excluded from its placement
   * ({@link Job#allowedModels}); if that leaves none, the job waits.
   */
  boolean allows(Job j) {
    QueueState q = j.queue;
    j.allowedModels = null;
    j.quotaKeptItFromRoom = false;
    long after = q.usedMilli + j.demandMilli;
    if (after > QueueState.plus(q.guaranteeMilli, q.borrowLimitMilli)) {
      return false;
    }
    if (anyLendLimit && after > q.guaranteeMilli) {
      long free = capacity.totalCap - capacity.totalUsed - j.demandMilli;
      long kept = 0;
      for (QueueState o : queueList) {
        if (o != q && o.lendLimitMilli != QueueState.UNLIMITED) {
          kept = QueueState.plus(kept, unlent(o.guaranteeMilli, o.usedMilli, o.lendLimitMilli));
        }
      }
      if (free < kept) {
        return false;
      }
    }
    if ((q.modelQuotas.isEmpty() && !anyModelLendLimit) || j.compatPools.length == 0) {
      // No pool could host it (a MIG profile or model no node offers): no model quota applies,
      // and the placement says UNSCHEDULABLE rather than this saying QUOTA.
      return true;
    }
    Set<String> allowed = new LinkedHashSet<>();
    boolean excluded = false;
    for (int p : j.compatPools) {
      int m = capacity.poolModel[p];
      ModelLimits quota = modelQuota(q, m);
      String name = capacity.models.get(m).name();
      if ((quota != null && modelUse(q, m) + j.demandMilli > quota.capMilli())
          || (anyModelLendLimit && !modelLendAllows(q, m, j.demandMilli))) {
        excluded = true;
        j.quotaKeptItFromRoom |= capacity.poolCap[p] - capacity.poolUsed[p] >= j.demandMilli;
      } else {
        allowed.add(name);
      }
    }
    if (allowed.isEmpty()) {
      return false;
    }
    if (excluded) {
      j.allowedModels = Set.copyOf(allowed);
    }
    return true;
  }

  /**
   * The GPU models the job's queue quotas let it use now (as {@link #allows} computes them for its
   * start), {@code null} for any model it is compatible with, or an empty set if the quotas keep
   * it from starting at all. Leaves the job's per-pass fields as they were.
   */
  @Nullable Set<String> models(Job j) {
    Set<String> savedModels = j.allowedModels;
    boolean savedKept = j.quotaKeptItFromRoom;
    try {
      return allows(j) ? j.allowedModels : Set.of();
    } finally {
      j.allowedModels = savedModels;
      j.quotaKeptItFromRoom = savedKept;
    }
  }

  /** Unused guarantee that may not be lent, {@code max(0, guarantee - used - lend)}, saturating. */
  private static long unlent(long guarantee, long used, long lend) {
    return Math.max(0, QueueState.minus(QueueState.minus(guarantee, used), lend));
  }

  /**
   * Per-model lend limits: {@code q} may take {@code demand} of model {@code m} beyond its own
   * guarantee there only if what stays free of {@code m} covers the unused guarantee other queues
   * do not lend on it.
   */
  private boolean modelLendAllows(QueueState q, int m, long demand) {
    ModelLimits own = modelQuota(q, m);
    if (modelUse(q, m) + demand <= (own == null ? 0 : own.guaranteeMilli())) {
      return true;
    }
    long kept = 0;
    for (QueueState o : queueList) {
      ModelLimits oq = o == q ? null : modelQuota(o, m);
      if (oq != null && oq.lendLimitMilli() != QueueState.UNLIMITED) {
        kept = QueueState.plus(kept, unlent(oq.guaranteeMilli(), modelUse(o, m), oq.lendLimitMilli()));
      }
    }
    if (kept == 0) {
      return true;
    }
    long used = 0;
    for (int p = 0; p < capacity.poolModel.length; p++) {
      if (capacity.poolModel[p] == m) {
        used += capacity.poolUsed[p];
      }
    }
    return capacity.modelCap[m] - used - demand >= kept;
  }

  /**
   * The first reclaim victim (in plan order) with which the victims take its queue below its
   * guarantee: the total one, or for a per-model reclaim the one on that model (its model quota,
   * else its total); {@code null} if every victim queue stays at or above its guarantee.
   */
  @Nullable Job breaksAGuarantee(List<Job> victims, Map<Job, StopReason> reason, int model) {
    Map<QueueState, Long> taken = new HashMap<>();
    for (Job v : victims) {
      if (reason.get(v) != StopReason.QUOTA_RECLAIM) {
        continue;
      }
      ModelLimits quota = model < 0 ? null : modelQuota(v.queue, model);
      if (quota != null) {
        long t = taken.merge(v.queue, modelUse(v, model), Long::sum);
        if (modelUse(v.queue, model) - t < quota.guaranteeMilli()) {
          return v;
        }
      } else {
        long t = taken.merge(v.queue, v.usedMilli, Long::sum);
        if (v.queue.usedMilli - t < v.queue.guaranteeMilli) {
          return v;
        }
      }
    }
    return null;
  }

  /** Whether {@code v} of queue {@code o} holds capacity of {@code model} that {@code o} borrowed. */
  boolean borrowedOn(QueueState o, Job v, int model) {
    long on = modelUse(v, model);
    if (on == 0) {
      return false;
    }
    ModelLimits quota = modelQuota(o, model);
    if (quota != null) {
      return modelUse(o, model) - on >= quota.guaranteeMilli();
    }
    return o.usedMilli > o.guaranteeMilli && o.usedMilli - v.usedMilli >= o.guaranteeMilli;
  }

  private static long modelUse(Job j, int model) {
    return model < j.modelMilli.length ? j.modelMilli[model] : 0;
  }

  private static long modelUse(QueueState q, int model) {
    return model < q.modelMilli.length ? q.modelMilli[model] : 0;
  }

  /** {guarantee, guarantee + borrow limit} in milli for the queue's quota on a model, or null. */
  private @Nullable ModelLimits modelQuota(QueueState q, int model) {
    return q.modelQuotas.isEmpty() ? null : q.modelQuotas.get(capacity.models.get(model).name());
  }

  /** A model the job could run on where its queue stays within its per-model guarantee, or -1. */
  int modelWithinGuarantee(Job j) {
    if (j.queue.modelQuotas.isEmpty()) {
      return -1;
    }
    for (int p : j.compatPools) {
      int m = capacity.poolModel[p];
      ModelLimits quota = modelQuota(j.queue, m);
      if (quota != null && modelUse(j.queue, m) + j.demandMilli <= quota.guaranteeMilli()) {
        return m;
      }
    }
    return -1;
  }
}
