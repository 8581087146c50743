// Filled in by the progressive-enhancement work of issue 3.
