"""The implementation-agnostic test suite of the conformance kit, shipped with refsampler.

Run it against your sampler from any directory, with only refsampler (and pytest and
Hypothesis) installed::

    python -m pytest --pyargs refsampler.conformance.suite \
        --refsampler-impl=mypkg.sampling:make_batches

It holds property tests over thousands of generated configurations (``test_invariants``),
statistical tests of i.i.d. kinds (``test_statistics``) and every check of the kit, one test
per check (``test_kit``). The implementation comes from ``--refsampler-impl`` or the
``refsampler_impl`` ini key; without one the session ends with one line saying so.
Configurations the implementation declines (``NotImplementedError``) are skipped with the
reason; a kind none of whose configurations ran fails its ``<kind>-tested`` test. Exit status
0 means the implementation conforms, 1 that a test failed.
"""
