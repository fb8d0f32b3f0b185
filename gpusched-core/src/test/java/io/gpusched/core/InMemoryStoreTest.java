package io.gpusched.core;

import io.gpusched.store.SchedulerStore;

/** The store contract on {@link SchedulerStores#inMemory()}. */
class InMemoryStoreTest extends StoreContractTest {
  @Override
  SchedulerStore newStore() {
    return SchedulerStores.inMemory();
  }

  @Override
  SchedulerStore reopen(SchedulerStore store) {
    return store; // it lives as long as the JVM: the same object is the "reopened" store
  }
}
