package dedupe

import "math"

func lnRef(x float64) float64 { return math.Log(x) }
