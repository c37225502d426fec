/**
 * An error answer of an emulated AWS service, independent of the wire protocol: each protocol module renders it
 * in its own format (rest-json header + body, query `ErrorResponse`, JSON 1.1 `__type`).
 */
export class AwsError extends Error {
  constructor(
    /** The error code exactly as AWS sends it (`NoSuchEntity`, `ResourceNotFoundException`, ...). */
    readonly code: string,
    readonly status: number,
    message: string,
    readonly details: {
      /** Seconds, sent as the `Retry-After` header on throttles. */
      retryAfterSeconds?: number
      /** Lambda's throttle `Reason` (e.g. `CallerRateLimitExceeded`). */
      reason?: string
    } = {},
  ) {
    super(message)
    this.name = code
  }

  /** Whether the fault is the caller's (`Sender`/`User`) or the service's (`Receiver`/`Service`). */
  get senderFault(): boolean {
    return this.status < 500
  }
}
