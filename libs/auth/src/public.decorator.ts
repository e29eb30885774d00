import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'agentidp:isPublic';

/** Marks a route that authenticates on its own terms (OAuth endpoints, discovery, health). */
export const Public = () => SetMetadata(IS_PUBLIC, true);
