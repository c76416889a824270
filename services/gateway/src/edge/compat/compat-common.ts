import { ValidationPipe } from '@nestjs/common';
import { isUnregistered, type DeviceRef, type DeviceView } from '@pushledger/contracts';
import type { OwnerClient } from '../../infrastructure/owner.client';
import { ApiError } from '../http/api-error';
import { apiValidationPipe } from '../http/validation';

/** The native API's id rule (device and user ids), shared by the compatible routes. */
export const ID_PATTERN = /^[A-Za-z0-9._:@+-]{1,256}$/;
export const ID_MESSAGE = '$property must be 1 to 256 characters of letters, digits and . _ : @ + -';
export const MAX_TOKEN = 4096;

const pipe: ValidationPipe = apiValidationPipe();

/** Validates a body the route took raw (used where one path serves two body shapes). */
export async function validateBody<T>(metatype: new () => T, body: unknown): Promise<T> {
  return (await pipe.transform(body, { type: 'body', metatype })) as T;
}

/** A path segment that names a user: the same rule as in bodies, with a 400 naming the parameter. */
export function pathId(value: string, field: string): string {
  if (!ID_PATTERN.test(value)) throw ApiError.validation(field, 'must be 1 to 256 characters of letters, digits and . _ : @ + -');
  return value;
}

/** The device's view, or the one 404 a missing device, an unregistered one and another app's device share. */
export async function viewOr404(owners: OwnerClient, appId: string, ref: DeviceRef, what = 'device'): Promise<DeviceView> {
  const view = await owners.findDevice(appId, ref);
  if (!view || isUnregistered(view)) throw ApiError.notFound(what);
  return view;
}
