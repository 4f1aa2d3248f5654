"""Document parsing: format detection, a killable worker process, Docling conversion, result shaping."""
