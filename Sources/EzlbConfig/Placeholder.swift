import EzlbCore
