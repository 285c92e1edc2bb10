"""The exception hierarchy: every class under StratavecError and the builtin that fits."""

import pytest

import stratavec as sv

HIERARCHY = {
    sv.DimensionMismatchError: ValueError,
    sv.InvalidVectorError: ValueError,
    sv.InvalidFilterError: ValueError,
    sv.InvalidArgumentError: ValueError,
    sv.NotFoundError: KeyError,
    sv.ConflictError: RuntimeError,
    sv.CorruptFileError: OSError,
    sv.IncompatibleVersionError: OSError,
    sv.StorageError: OSError,
    sv.ClosedError: RuntimeError,
    sv.ReadOnlyError: RuntimeError,
}


@pytest.mark.parametrize("cls,builtin", HIERARCHY.items())
def test_each_class_is_a_stratavec_error_and_its_builtin(cls, builtin):
    assert issubclass(cls, sv.StratavecError) and issubclass(cls, builtin)
    assert cls.__module__ == "stratavec" and cls.__doc__


def test_missing_collection_is_a_key_error(db):
    with pytest.raises(KeyError, match="nope"):
        db.get_collection("nope")
