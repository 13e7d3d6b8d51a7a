"""Deprecated name of ``tools/test.py`` (MMDetection's test tool with
de-occlusion); kept for one release. Same arguments."""
import os.path as osp
import runpy
import sys
import warnings

if __name__ == '__main__':
    warnings.warn('tools/test_detector.py is now tools/test.py',
                  DeprecationWarning, stacklevel=1)
    sys.argv[0] = osp.join(osp.dirname(osp.abspath(__file__)), 'test.py')
    runpy.run_path(sys.argv[0], run_name='__main__')
