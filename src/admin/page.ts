/** One page of an admin list (at most 100 items). */
export interface Page<T> {
  readonly items: T[];
  /** Items matching the filters, over all pages. */
  readonly total: number;
  readonly limit: number;
  readonly offset: number;
}

/** A page of the device list: offset fields as before, and the keyset cursor of the page after it. */
export interface KeysetPage<T> extends Page<T> {
  /** Pass back as `cursor` for the next page, with the same filters; null on the last page. */
  readonly nextCursor: string | null;
}
