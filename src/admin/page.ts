/** One page of an admin list (offset pagination, at most 100 items). */
export interface Page<T> {
  readonly items: T[];
  /** Items matching the filters, over all pages. */
  readonly total: number;
  readonly limit: number;
  readonly offset: number;
}
