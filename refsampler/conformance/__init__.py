"""The conformance kit: prove a class-balanced sampler right, or catch it wrong."""
