"""partdistill: 3D part segmentation without 3D labels, by distilling 2D vision-language teachers.

From Python, `import partdistill.api as ptd`: the calls the `pd` command makes (`ptd.synth`,
`ptd.teach`, `ptd.distill`, `ptd.predict`, `ptd.evaluate`, ...). They live in their own module
because `partdistill.synth`, `partdistill.teach` and the others are the stages' packages.
"""

__version__ = "0.1.0"
