"""One agent run inside the editor: the host, edits through the editor, traces."""
