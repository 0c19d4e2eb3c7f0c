"""`step-audio2`: Step-Audio 2 mini, through StepFun's vLLM endpoint or its own class."""
