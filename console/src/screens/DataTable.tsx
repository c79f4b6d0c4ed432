import { flexRender, type Table } from '@tanstack/react-table';

/**
 * A TanStack table rendered as an accessible HTML table (caption for screen readers, column
 * headers with scope). `rowAttribute` names the data attribute that carries each row's id
 * (the browser tests find rows by it).
 */
export function DataTable<T>({ table, caption, testId, rowAttribute }: { table: Table<T>; caption: string; testId: string; rowAttribute: `data-${string}` }) {
  return (
    <div className="table-wrap">
      <table className="table" data-testid={testId}>
        <caption className="sr-only">{caption}</caption>
        <thead>
          {table.getHeaderGroups().map((hg) => (
            <tr key={hg.id}>
              {hg.headers.map((h) => (
                <th key={h.id} scope="col">
                  {flexRender(h.column.columnDef.header, h.getContext())}
                </th>
              ))}
            </tr>
          ))}
        </thead>
        <tbody>
          {table.getRowModel().rows.map((r) => (
            <tr key={r.id} {...{ [rowAttribute]: r.id }}>
              {r.getVisibleCells().map((c) => (
                <td key={c.id}>{flexRender(c.column.columnDef.cell, c.getContext())}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
