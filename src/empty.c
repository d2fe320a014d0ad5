/* Placeholder translation unit for a layer with no sources yet. */
typedef int sl_empty_unit_t;
