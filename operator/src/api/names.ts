/** Field types the AnsibleJob API shares between its parts: Kubernetes object names. */
import * as z from 'zod';

export const kubeName = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/)
  .meta({ description: 'A Kubernetes object name (DNS subdomain).' });
