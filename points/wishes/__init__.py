"""wishes"""
