/** Response schema fragments shared by every route file, so the OpenAPI document lists errors too. */
import { ErrorBody, MessageErrorBody, NoContent } from '@roster/contracts';

export const errorResponses = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
};

export const messageErrorResponses = {
  400: MessageErrorBody,
  401: MessageErrorBody,
  403: MessageErrorBody,
  429: MessageErrorBody,
};

/** For a route outside the operations table's reach (routes in the table take their 204 from it). */
export const noContent = { 204: NoContent };
