"""The SAM-PT pipeline, one module per step:

* :mod:`~sampt.pipeline.query_points` - step 1, query points from masks or clicks;
* :mod:`~sampt.pipeline.tracking` - step 2, tracking all objects' points;
* :mod:`~sampt.pipeline.prompting` - step 3, two-pass prompting with iterative refinement per frame;
* :mod:`~sampt.pipeline.reinit` - step 4, periodic re-initialisation of the points;
* :mod:`~sampt.pipeline.sam_pt` - :class:`SamPt`, which composes them.

Every step function takes the run's :class:`~sampt.pipeline.context.RunContext` first (components,
options, seed, embeddings, timings).
"""
from sampt.pipeline.context import RunContext
from sampt.pipeline.options import REINIT_VARIANTS, SamPtOptions
from sampt.pipeline.query_points import ObjectPrompt, ObjectQueries
from sampt.pipeline.sam_pt import SamPt, SamPtResult

__all__ = ["SamPt", "SamPtResult", "SamPtOptions", "ObjectPrompt", "ObjectQueries", "REINIT_VARIANTS", "RunContext"]
