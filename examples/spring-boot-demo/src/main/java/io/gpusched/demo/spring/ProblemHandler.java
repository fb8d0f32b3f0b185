package io.gpusched.demo.spring;

import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.ProblemDetail;
import org.springframework.http.ResponseEntity;
import org.springframework.http.converter.HttpMessageNotReadableException;
import org.springframework.web.bind.MethodArgumentNotValidException;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.RestControllerAdvice;
import org.springframework.web.context.request.WebRequest;
import org.springframework.web.servlet.mvc.method.annotation.ResponseEntityExceptionHandler;
import tools.jackson.core.JacksonException;

/**
 * Every error as an RFC 9457 problem detail ({@code application/problem+json}); validation errors
 * list each field with the rejected value under {@code errors}.
 */
@RestControllerAdvice
class ProblemHandler extends ResponseEntityExceptionHandler {

  @Override
  protected @Nullable ResponseEntity<Object> handleMethodArgumentNotValid(
      MethodArgumentNotValidException ex,
      HttpHeaders headers,
      HttpStatusCode status,
      WebRequest request) {
    ProblemDetail p = ex.getBody();
    p.setTitle("Invalid job request");
    List<Map<String, Object>> errors =
        ex.getBindingResult().getFieldErrors().stream()
            .map(
                e ->
                    Map.<String, Object>of(
                        "field", e.getField(),
                        "rejected", String.valueOf(e.getRejectedValue()),
                        "message", String.valueOf(e.getDefaultMessage())))
            .toList();
    p.setDetail(
        errors.stream().map(e -> e.get("field") + ": " + e.get("message")).toList().toString());
    p.setProperty("errors", errors);
    return handleExceptionInternal(ex, p, headers, status, request);
  }

  /**
   * A body that is not JSON, or a field of the wrong type: the same shape as a validation error,
   * naming the field where Jackson can tell.
   */
  @Override
  protected @Nullable ResponseEntity<Object> handleHttpMessageNotReadable(
      HttpMessageNotReadableException ex,
      HttpHeaders headers,
      HttpStatusCode status,
      WebRequest request) {
    String field = "";
    String message = "the body is not a JSON job request";
    String rejected = "";
    if (ex.getMostSpecificCause() instanceof JacksonException j) {
      field =
          j.getPath().stream()
              .map(r -> r.getPropertyName() != null ? r.getPropertyName() : "[" + r.getIndex() + "]")
              .collect(Collectors.joining("."))
              .replace(".[", "[");
      String original = j.getOriginalMessage();
      message = original == null ? message : original.lines().findFirst().orElse(message);
    }
    ProblemDetail p = ProblemDetail.forStatus(status);
    p.setTitle("Invalid job request");
    p.setDetail((field.isEmpty() ? "" : field + ": ") + message);
    p.setProperty("errors", List.of(Map.of("field", field, "rejected", rejected, "message", message)));
    return handleExceptionInternal(ex, p, headers, status, request);
  }

  @ExceptionHandler(InvalidRequest.class)
  ProblemDetail invalid(InvalidRequest e) {
    ProblemDetail p = ProblemDetail.forStatusAndDetail(HttpStatus.BAD_REQUEST, e.field() + ": " + e.getMessage());
    p.setTitle("Invalid job request");
    p.setProperty(
        "errors",
        List.of(Map.of("field", e.field(), "rejected", String.valueOf(e.value()), "message", e.getMessage())));
    return p;
  }

  @ExceptionHandler(IllegalArgumentException.class)
  ProblemDetail illegal(IllegalArgumentException e) {
    return problem(HttpStatus.BAD_REQUEST, "Rejected by the scheduler", e);
  }

  @ExceptionHandler(NoSuchElementException.class)
  ProblemDetail notFound(NoSuchElementException e) {
    return problem(HttpStatus.NOT_FOUND, "Not found", e);
  }

  @ExceptionHandler(IllegalStateException.class)
  ProblemDetail unavailable(IllegalStateException e) {
    return problem(HttpStatus.SERVICE_UNAVAILABLE, "Scheduler unavailable", e);
  }

  private static ProblemDetail problem(HttpStatus status, String title, Exception e) {
    ProblemDetail p = ProblemDetail.forStatusAndDetail(status, e.getMessage());
    p.setTitle(title);
    return p;
  }
}
