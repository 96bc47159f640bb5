"""Card generation: planning orders into chunks and generating each chunk."""
