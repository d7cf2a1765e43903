"""Dataset tools: realism report comparing real and synthetic dataset roots."""
