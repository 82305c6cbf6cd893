"""`tertulia bench`: a load generator that measures tertulia and other chat servers alike."""
