"""`tertulia chat`: the set-up flow, the line mode and (soon) the Textual app."""
