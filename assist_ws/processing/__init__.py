"""Processing centers over SOAP: the Zeep adapter of the ``ProcessingGateway`` port.

Wire <-> domain mapping happens here only.  Every call has explicit connect and read
timeouts; a timeout or a broken answer after the request may have arrived is an UNKNOWN
outcome, never a success.
"""

from .zeep_gateway import Timeouts, ZeepProcessingGateway

__all__ = ["Timeouts", "ZeepProcessingGateway"]
