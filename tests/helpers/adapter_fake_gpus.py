"""A pytest plugin for the tests: pretend this machine has one CUDA GPU (``-p tests.helpers.adapter_fake_gpus``)."""

from model_adapters.utils import devices

devices.cuda_device_count = lambda: 1
