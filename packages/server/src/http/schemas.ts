/** Response schema fragments shared by every route file, so the OpenAPI document lists errors too. */
import { Type } from 'typebox';
import { ErrorBody, MessageErrorBody } from '@roster/contracts';

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

export const noContent = { 204: Type.Null({ description: 'No content' }) };
