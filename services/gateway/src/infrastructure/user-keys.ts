import { Injectable } from '@nestjs/common';
import { OwnerClient } from './owner.client';

const MAX_KEYS = 100_000;

/**
 * Read-model ids of users (a pseudonym of the user id under libs/privacy, whose secret only the owners
 * hold), asked of the identity service once and kept: a user's key never changes.
 */
@Injectable()
export class UserKeys {
  private readonly keys = new Map<string, string>();

  constructor(private readonly owners: OwnerClient) {}

  async of(appId: string, userId: string): Promise<string> {
    const id = `${appId}\u0000${userId}`;
    const known = this.keys.get(id);
    if (known !== undefined) return known;
    const key = await this.owners.userKey(appId, userId);
    if (this.keys.size >= MAX_KEYS) this.keys.delete(this.keys.keys().next().value!);
    this.keys.set(id, key);
    return key;
  }
}
