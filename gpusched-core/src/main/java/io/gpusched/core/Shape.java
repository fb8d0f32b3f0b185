package io.gpusched.core;

import io.gpusched.PlacementRequest;

/**
 * What a pending job needs, as far as placement can tell: two jobs of one queue with equal shapes
 * either both fit or both do not, so only the first of each shape is tried per dispatch pass.
 */
record Shape(PlacementRequest request, int gangSize) {}
