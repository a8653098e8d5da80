"""Models of this pillar arrive with its issue; the app exists so that the layers are enforced."""
