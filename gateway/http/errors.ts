import type { FastifyError, FastifyInstance } from "fastify";
import { isDatabaseUnavailable } from "../../common/db.js";
import { DomainError, type ErrorKind } from "../../common/errors.js";

const HTTP_STATUS: Record<ErrorKind, number> = {
  invalid: 400,
  unprocessable: 422,
  limit: 400,
  not_found: 404,
  conflict: 409,
  unauthenticated: 401,
  forbidden: 403,
  unavailable: 503,
  busy: 429,
  data_loss: 500,
};

/**
 * Every error leaves as `{"message": "..."}`. Messages are fixed or come from
 * validators and domain rules, never from parsers that quote the input: a
 * JSON syntax error would otherwise echo part of a secret value back.
 */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof DomainError) {
      if (err.kind === "busy") reply.header("retry-after", "1");
      return reply.status(HTTP_STATUS[err.kind]).send({ message: err.message });
    }
    if (err.validation) {
      return reply.status(400).send({ message: err.message });
    }
    if (err instanceof SyntaxError || err.code === "FST_ERR_CTP_INVALID_JSON_BODY") {
      return reply.status(400).send({ message: "request body is not valid JSON" });
    }
    if (isDatabaseUnavailable(err)) {
      request.log.warn({ err: { code: err.code, message: err.message } }, "the database is unavailable");
      return reply.status(503).send({ message: "the database is unavailable; try again shortly" });
    }
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      return reply.status(status).send({ message: CLIENT_ERRORS[err.code ?? ""] ?? "bad request" });
    }
    request.log.error({ err: { type: err.name, code: err.code, message: err.message, stack: err.stack } }, "request failed");
    return reply.status(500).send({ message: "internal error" });
  });
  app.setNotFoundHandler((_request, reply) => reply.status(404).send({ message: "not found" }));
}

const CLIENT_ERRORS: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: "request body is too large",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "unsupported content type: send application/json",
  FST_ERR_CTP_EMPTY_JSON_BODY: "request body must not be empty when content-type is application/json",
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: "content-length does not match the body",
  FST_ERR_BAD_STATUS_CODE: "bad request",
};
