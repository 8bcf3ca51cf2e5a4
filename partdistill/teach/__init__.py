"""The teacher stage: render each shape, ask a 2D teacher where its parts are, lift the answers to units."""
