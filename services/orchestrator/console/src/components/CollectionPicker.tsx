import type { Collection } from "../types";

export function CollectionPicker({
  collections,
  value,
  onChange,
  label = "Collection",
  allowAll = false,
}: {
  collections: Collection[];
  value: string;
  onChange: (name: string) => void;
  label?: string;
  allowAll?: boolean;
}) {
  return (
    <label>
      {label}
      <select value={value} onChange={(e) => onChange(e.target.value)}>
        {allowAll && <option value="">all collections</option>}
        {!allowAll && !value && <option value="">choose…</option>}
        {collections.map((c) => (
          <option key={c.name} value={c.name}>
            {c.name}
          </option>
        ))}
      </select>
    </label>
  );
}
