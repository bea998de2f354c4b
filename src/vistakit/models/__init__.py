"""Model layer: loading any image-text-to-text model, the embedded tiny model, token segments."""
