package io.gpusched.demo.spring;

import org.jspecify.annotations.Nullable;

/** A request field the controller rejects after bean validation passed. */
final class InvalidRequest extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final String field;
  private final @Nullable Object value;

  InvalidRequest(String field, @Nullable Object value, String message) {
    super(message);
    this.field = field;
    this.value = value;
  }

  String field() {
    return field;
  }

  @Nullable Object value() {
    return value;
  }
}
