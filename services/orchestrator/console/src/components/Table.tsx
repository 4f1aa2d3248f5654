import type { ReactNode } from "react";

// A data table with its caption (for screen readers) and column headers; `children` are the body's rows.
export function Table({
  caption,
  columns,
  children,
}: {
  caption: string;
  columns: (string | false | undefined)[];
  children: ReactNode;
}) {
  return (
    <table>
      <caption className="sr-only">{caption}</caption>
      <thead>
        <tr>
          {columns.filter(Boolean).map((column) => (
            <th key={column as string} scope="col">
              {column}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>{children}</tbody>
    </table>
  );
}
