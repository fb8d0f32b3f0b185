package io.gpusched.store;

/**
 * A {@link SchedulerStore} could not be read or could not commit: unreachable, a failed or
 * rolled-back transaction, a full disk, a read-only database, or a schema it cannot use (another
 * version, a foreign or damaged schema). The message says which; the cause, when there is one, is
 * the driver's exception.
 *
 * <p>For a commit it means nothing of the batch was written (a store commits a batch whole or not
 * at all). A scheduler call that throws it says in its Javadoc what was and was not done.
 */
public class StoreException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  /**
   * A failure without an underlying exception.
   *
   * @param message what failed, naming the store and the values involved
   */
  public StoreException(String message) {
    super(message);
  }

  /**
   * A failure caused by another exception (typically a {@code java.sql.SQLException}).
   *
   * @param message what failed, naming the store and the values involved
   * @param cause the underlying exception
   */
  public StoreException(String message, Throwable cause) {
    super(message, cause);
  }
}
